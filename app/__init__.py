"""at-stream: signed trading signals to orders, fills and positions on a Kafka log."""
