//! One declaration of the engine's `[workload]` keys, shared by every family's table.
//!
//! serde's `flatten` cannot be used with `deny_unknown_fields`, so a family's `[workload]` table
//! cannot embed [`EngineParams`](crate::EngineParams) as a field and still reject typos. Instead
//! [`client_workload!`](crate::client_workload) declares a family's table as one flat struct: the
//! engine's fields (listed once, here, with their types, defaults and docs) beside the family's
//! own, with `#[serde(deny_unknown_fields, default)]`, a `Default` and an `engine()` builder.
//! `EngineParams` itself is declared by the same list, so a key added to the engine reaches every
//! family's table, its defaults and its builder at once.

#[doc(hidden)]
pub mod private {
    pub use sim_core::SimDuration;
}

/// Declares a family's `[workload]` table: the engine's keys (see the crate docs) beside the
/// family's own, each family field with its default after `=`.
///
/// The struct gets `#[serde(deny_unknown_fields, default)]` (so the caller derives
/// `Deserialize`), `impl Default`, and `fn engine(&self) -> EngineParams`, the engine's share.
///
/// ```
/// use serde::Deserialize;
///
/// sim_client::client_workload! {
///     /// `[workload]` of a family with one key of its own.
///     #[derive(Clone, Debug, PartialEq, Deserialize)]
///     pub struct WorkloadParams {
///         /// Keys the clients use.
///         pub keys: usize = 5,
///     }
/// }
///
/// let params: WorkloadParams = toml::from_str("keys = 2\nclients = 4").unwrap();
/// assert_eq!((params.keys, params.engine().clients), (2, 4));
/// assert!(toml::from_str::<WorkloadParams>("client = 4").is_err());
/// ```
#[macro_export]
macro_rules! client_workload {
    (
        $(#[$meta:meta])*
        $vis:vis struct $name:ident { $($family:tt)* }
    ) => {
        $crate::__engine_fields! {
            builder;
            $(#[$meta])* $vis struct $name;
            family [ $($family)* ];
        }
    };
}

/// The engine's fields, listed once: hands them to `__workload_table!`.
#[doc(hidden)]
#[macro_export]
macro_rules! __engine_fields {
    ($($input:tt)*) => {
        $crate::__workload_table! {
            $($input)*
            engine [
                /// Clients, 1 to 1024.
                clients: usize = 3,
                /// Closed loop: a uniform wait in `[min, max]` between an operation's end and
                /// the next.
                think_time: [$crate::table::private::SimDuration; 2] = [
                    $crate::table::private::SimDuration::ZERO,
                    $crate::table::private::SimDuration::from_millis(10),
                ],
                /// Open loop when present; closed loop when absent.
                open_loop: Option<$crate::OpenLoop> = None,
                /// An attempt without an answer this long is sent again to the next node.
                request_timeout: $crate::table::private::SimDuration =
                    $crate::table::private::SimDuration::from_millis(500),
                /// An operation not answered this long after its invoke ends as info.
                op_timeout: $crate::table::private::SimDuration =
                    $crate::table::private::SimDuration::from_secs(2),
                /// The first backoff after an unavailable answer (or a redirect naming no one).
                backoff: $crate::table::private::SimDuration =
                    $crate::table::private::SimDuration::from_millis(10),
                /// Each further backoff of the same operation is this many times the previous.
                backoff_multiplier: f64 = 1.0,
                /// No backoff is longer; `op_timeout` when absent.
                backoff_max: Option<$crate::table::private::SimDuration> = None,
                /// A backoff `d` becomes a uniform draw in `[d * (1 - jitter), d]`.
                backoff_jitter: f64 = 0.0,
                /// Attempts per operation, the first included; bounded by `op_timeout` alone
                /// when absent.
                max_attempts: Option<u32> = None,
                /// Redirects followed at once before backing off; the node count when absent.
                max_redirects: Option<u32> = None,
                /// Follow redirects, or stay with the node first reached (`"pinned"`).
                routing: $crate::Routing = $crate::Routing::Follow,
                /// A circuit breaker per client when present.
                breaker: Option<$crate::BreakerParams> = None,
                /// Operations per client; no bound when absent.
                max_ops: Option<u64> = None,
                /// Clients start invoking after this much simulated time.
                start_after: $crate::table::private::SimDuration =
                    $crate::table::private::SimDuration::ZERO,
                /// Clients invoke nothing new from this time on; when absent they go on until
                /// the run ends.
                stop_at: Option<$crate::table::private::SimDuration> = None,
            ];
        }
    };
}

/// Emits the struct, its `Default` and (with `builder`) its `engine()`.
#[doc(hidden)]
#[macro_export]
macro_rules! __workload_table {
    (
        $builder:ident;
        $(#[$meta:meta])* $vis:vis struct $name:ident;
        family [ $( $(#[$fmeta:meta])* $fvis:vis $field:ident : $fty:ty = $fdefault:expr ),* $(,)? ];
        engine [ $( $(#[$emeta:meta])* $efield:ident : $ety:ty = $edefault:expr ),* $(,)? ];
    ) => {
        $(#[$meta])*
        #[serde(deny_unknown_fields, default)]
        $vis struct $name {
            $( $(#[$emeta])* pub $efield: $ety, )*
            $( $(#[$fmeta])* $fvis $field: $fty, )*
        }

        impl ::core::default::Default for $name {
            fn default() -> Self {
                $name {
                    $( $efield: $edefault, )*
                    $( $field: $fdefault, )*
                }
            }
        }

        $crate::__workload_table! { @$builder $name [ $($efield)* ] }
    };
    (@builder $name:ident [ $($efield:ident)* ]) => {
        impl $name {
            /// The engine's share of the table.
            pub fn engine(&self) -> $crate::EngineParams {
                $crate::EngineParams {
                    $( $efield: self.$efield, )*
                }
            }
        }
    };
    (@engine $name:ident [ $($efield:ident)* ]) => {};
}
