//! SIP: messages, parsing, URIs and headers; digest authentication; (transactions, dialogs,
//! registrar and B2BUA follow). All sans-IO.

pub mod b2bua;
pub mod digest;
pub mod flood;
pub mod header;
pub mod message;
pub mod parse;
pub mod registrar;
pub mod server;
pub mod uplink;
pub mod uri;

pub use message::{Headers, Message, Method, Request, Response};
pub use parse::{parse_datagram, parse_stream, ParseError};
pub use uri::SipUri;
