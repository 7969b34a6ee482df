"""SMS, the pure core the `sms` channel (alertcast.channels.sms) sends with.

Nothing here talks to a network: `encoding` turns a text into the SMPP `short_message` octets
of its segments (GSM-7 or UCS-2, concatenated with a UDH) and back; `receipts` reads the
delivery receipts an operator's gateway sends back (`deliver_sm`).
"""
