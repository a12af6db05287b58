//! parkctl as a library: the pieces of the operators' command line that are
//! worth testing without a terminal or a server.
//!
//! - [`import`]: reading lots to import from GeoJSON (ParkAPI) and CSV files,
//!   row by row, with the position and reason of every row it refuses.

pub mod import;
