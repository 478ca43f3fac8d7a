"""Media by reference for the service: buyers upload files into their dataset's vault, items
name them (`"media:<name>"`), and whoever may see an item is handed short-lived signed URLs
that open only for them, each opening written to the dataset's access log."""
