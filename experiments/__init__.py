"""The lab: variant runs, studies and campaign scripts (experiments/README.md). Imports the trainer; nothing imports it."""
