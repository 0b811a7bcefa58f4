"""Exports to the platforms courses run on: Canvas, Moodle, JUnit (gradebook) and the Gradescope autograder bundle. Instructor only."""
