"""Evaluation sets of real footage for the curator's judgements (shot cuts, near-duplicates, quality filters).

``footage``: the real videos that registry packages ship, pinned by package version and sha256, each tagged with
its kind and its eye-checked single-shot stretches, split once by source into a tuning half and a held-out half.
``shotset``, ``dupset`` and ``qualityset`` build ground truth from one half by construction and score a
judgement against it. Defaults are set on the tuning half; every reported figure comes from the held-out half.
"""
