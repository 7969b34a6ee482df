"""Approval: who must agree before an alert goes out (policy), as plain Python."""
