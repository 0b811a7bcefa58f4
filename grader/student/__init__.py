"""The student's verbs: kata check, watch, hint and run. Ships in the student kit; imports the
judge, never the classroom.
"""
