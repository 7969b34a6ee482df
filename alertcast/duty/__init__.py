"""The duty desk: who is on duty when (the rota), whom to call about a waiting draft and when
(escalation), what the call says, and the signed links that acknowledge it. Pure: no Kafka, no
network; `alertcast.stream.duty` follows the audit log and sends the calls through the channels.
"""
