"""Live cameras: ``langvad watch`` reads a stream, decides each window as soon as its frames
have arrived (causal method), and raises alerts (events.jsonl, webhooks, MQTT)."""
