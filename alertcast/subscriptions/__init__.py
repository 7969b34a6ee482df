"""Citizens' subscriptions by area: the pure core the streaming shell and the public pages share.

A citizen subscribes to communes or départements on one channel (Web Push, e-mail, a feed).
Subscriptions live in a compacted topic keyed by subscription id; everything here decides,
nothing here moves: `model` (what a subscription is and how it changes state), `tokens`
(signed one-click links), `communes` (where communes are, searched by name), `matching`
(which subscriptions one alert version reaches) and `export` (a subscriber's data, and what
to delete on request).
"""
