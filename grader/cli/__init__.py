"""The kata command: argument parsing and dispatch to the student and instructor verbs."""
