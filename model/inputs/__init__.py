"""What the model reads: images and videos preprocessed to patches, text tokenized through the chat template."""
