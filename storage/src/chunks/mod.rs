//! Sealed chunks: their keyed ids ([`chunk_id`]), their sealing ([`seal`]) and the
//! content-addressed tree of chunk files ([`chunk_store`]), and the fault-injecting layer
//! under it ([`faults`]).

pub(crate) mod chunk_id;
pub(crate) mod chunk_store;
pub(crate) mod faults;
pub(crate) mod seal;
