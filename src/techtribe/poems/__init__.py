"""Poems: members publish poems, others rate them."""
