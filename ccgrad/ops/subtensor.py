"""Indexing: Subtensor (basic slicing/int indexing, symbolic scalar indices), AdvancedSubtensor1
(integer vector on axis 0), AdvancedSubtensor (several integer arrays), IncSubtensor
(set_subtensor / inc_subtensor), and the getitem builder."""

from __future__ import annotations
