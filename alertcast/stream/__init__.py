"""The streaming shell: the Faust app, its topics and agents. The only package importing faust."""
