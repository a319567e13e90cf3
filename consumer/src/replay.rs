//! Resetting the group offsets for replay (see issue 7).
