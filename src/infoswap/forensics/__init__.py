"""The forgery-detection study of App. 3 (Tables 2 and 3): build a real/fake set, train and evaluate a detector."""
