//! Network namespaces: isolated stack instances that share one world's
//! memory. Every table keyed by namespace carries an [`NsId`].

/// A namespace's index in its world.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct NsId(pub u8);
