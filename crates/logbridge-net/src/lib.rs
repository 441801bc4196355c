//! The transport kit of logbridge's network sources and sinks.
//!
//! What every listener and every sender shares, so that a network
//! component is its options, its routes (or requests) and its codec:
//! - [`server`]: TCP or TLS, HTTP/1.1 and HTTP/2 on one port, graceful
//!   shutdown;
//! - [`tls`]: rustls from PEM files, mutual TLS, client TLS;
//! - [`receive`]: the whole path of a pushed request (credentials,
//!   admission under a bound, the body within its limits and bounded
//!   decompression, decoding, handing data to the pipeline, answering
//!   after the sinks' acknowledgement), and the skeleton of a push source;
//! - [`client`]: what HTTP senders share (client, credentials, headers,
//!   `Retry-After`, gzip, gathering input into requests);
//! - [`retry`]: the one retry loop of HTTP senders;
//! - [`rpc`] (feature `grpc`): `google.rpc` error details.
//!
//! This crate holds no component and must not depend on a component crate;
//! the protocol conversions live in their own pure crates.

pub mod client;
pub mod receive;
pub mod retry;
#[cfg(feature = "grpc")]
pub mod rpc;
pub mod server;
pub mod tls;
