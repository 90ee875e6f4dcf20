//! Inventories: see the module docs inside.
