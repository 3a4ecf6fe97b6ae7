//! What the router knows of a call's cost as it ends: the carrier's rates (see
//! `store::call_cost`).

use super::*;

impl CallRouter {
    /// The account trunk's rates (the trunk calls go out through), for pricing carrier time.
    pub(super) fn carrier_rates(&self, account: i64) -> Option<crate::store::calls::CarrierRates> {
        let snapshot = self.planner.snapshot.borrow().clone();
        let trunk = snapshot.account(account)?.trunks.first()?.clone();
        let micros = |usd: Option<f64>| (usd.unwrap_or(0.0) * 1_000_000.0).round() as i64;
        let (inbound, outbound) =
            (micros(trunk.inbound_usd_per_minute), micros(trunk.outbound_usd_per_minute));
        (inbound > 0 || outbound > 0).then_some(crate::store::calls::CarrierRates {
            inbound_micros_per_minute: inbound,
            outbound_micros_per_minute: outbound,
        })
    }
}
