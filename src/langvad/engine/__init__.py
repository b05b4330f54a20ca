"""The engine: one small ``Runner`` that orchestrates the stage services (describe, read,
judge or LLM scoring, refine, evidence, segment, explain, provenance) over the shared run
context, the model holder and the LLM gateway."""
