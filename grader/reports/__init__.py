"""What a class grading writes for people and machines: the HTML report and its pages, failure
clusters, results.json and grades.csv. Instructor only.
"""
