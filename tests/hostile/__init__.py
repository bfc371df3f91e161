"""The hostile corpus: feeds and server behaviours made by a small generator
(:mod:`tests.hostile.generate`) instead of large fixture files."""
