"""Citizens' replies under our alerts (issue 19): the pure core, no Kafka, no network, no web.

The job it serves is the public community manager's: answer every citizen who replies, hand a
technical question to the competent service ("le relais compétent") and get its answer back
within the internal 72-hour circuit, and keep the thread within the usage charter (hide
personal data and insults, flag scams and campaigning for a person to decide). Each concept is
one module, each a set of pure functions whose clock is passed in:
- `model`: a reply as every network's poller will hand it, and a conversation turn;
- `moderation`: keep, hide or flag one reply, with every reason, and a person's override;
- `routing`: which service answers, from the body's YAML rules;
- `sla`: the 72-hour circuit, in business hours when the body has them (Chatwoot's SLA);
- `kpi`: what the weekly report counts;
- `conversations`: the replies and people's acts folded into conversations (inbox and worker);
- `circuit` (and `circuit_messages`): whom to tell, and when, before and after a deadline;
- `actions`: hiding or answering a reply on its network, what each network allows, once.
Human messages are English and French, keyed by rule id, in the modules themselves: alertcast
has no gettext catalogs yet.
"""
