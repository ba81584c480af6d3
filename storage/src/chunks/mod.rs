//! Sealed chunks: their keyed ids ([`chunk_id`]), their sealing ([`seal`]) and the
//! content-addressed tree of chunk files, their place in memory or in a remote object store
//! ([`chunk_store`], [`memory`], [`remote`]), the fault-injecting layer
//! under it ([`faults`]), and the reused chunk-sized buffers they pass through
//! ([`buffers`]).

pub(crate) mod buffers;
pub(crate) mod chunk_id;
pub(crate) mod chunk_store;
pub(crate) mod faults;
pub(crate) mod memory;
pub(crate) mod remote;
pub(crate) mod seal;
