"""The kit's own authoring tools: the stub generator, kata validate and its mistake matrix, kata
release. Instructor only.
"""
