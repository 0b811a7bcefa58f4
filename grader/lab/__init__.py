"""The lab itself as data: the task and TODO table (todos.toml) and its loader. Imports only grader.core."""
