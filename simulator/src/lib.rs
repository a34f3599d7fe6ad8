//! Placeholder: the NAND simulator lands here.
