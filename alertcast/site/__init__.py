"""The static public site and its feeds (Atom, CAP 1.2, JSON), built from published alerts."""
