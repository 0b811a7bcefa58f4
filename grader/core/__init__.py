"""Shared ground of every wing: the kit's paths, languages (i18n), quiet MLflow, files and the kit
manifest. Imports nothing of grader.
"""
