"""Channels: the only code that talks to a network. One module per network, one `Channel` each."""
