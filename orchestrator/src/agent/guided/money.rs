//! Words about the caller's money: their balance, credit or payments named ("my store credit",
//! "what's left to pay", "in arrears"), and a "balance" that is a thing's ("the balance on the
//! trekking poles": a product question).

use super::cues::{has_any, plain};
use crate::live::spaced;

/// The caller asks about their own balance or credit by name.
pub(super) fn about_own_balance(text: &str) -> bool {
    // "My credit card", "my credit score" are not credit on the account.
    let t = spaced(text).replace(" credit card ", " card ").replace(" credit score ", " score ");
    const BALANCE: &[&str] = &[
        "my balance",
        "my account balance",
        "my credit",
        "my store credit",
        "my account credit",
        "credit left",
        "credit on my account",
        "balance on my account",
        "what i owe",
        "how much i owe",
        "how much do i owe",
        "money on my account",
        "money left on",
        "still got money on it",
        "money on it",
        "left on the gift card",
        "left on my gift card",
        "left on the gif card",
        "left on the voucher",
        "left on my voucher",
        "account standing",
        "my account stands",
        "good standing",
        "my last payment",
        "left to pay",
        "standing of my account",
        "in arrears",
        "credit have i",
        "credit do i have",
        "credit i have",
        "credit ive got",
        "need to settle",
        "settle up",
        "my last instalment",
        "my last installment",
        "my instalment",
        "my installment",
        "my trade account",
        "balance carried forward",
        "balance brought forward",
        "carried forward on my",
        "brought forward on my",
        "left on the finance",
        "remains on the finance",
        "owe on the finance",
    ];
    has_any(&t, BALANCE)
}

/// A "balance" that is a thing's, not the caller's money ("what's the balance like on the
/// carbon trekking poles", "the balance of a chair"): a product question.
pub(super) fn balance_of_a_thing(text: &str) -> bool {
    const OF_A_THING: &[&str] = &[
        "balance of a",
        "balance of the",
        "balance on a",
        "balance on the",
        "balance of this",
        "balance on this",
        "balance of these",
        "balance on these",
        "balance of that",
        "balance like",
        "balanced",
        "keep my balance",
        "lose my balance",
        "lost my balance",
    ];
    const MONEY: &[&str] = &[
        "account",
        "owe",
        "owing",
        "credit",
        "card",
        "gift",
        "giftcard",
        "certificate",
        "voucher",
        "money",
        "pay",
        "paid",
        "payment",
        "statement",
        "invoice",
        "bill",
        "outstanding",
        "due",
        "points",
    ];
    let p = plain(text);
    (has_any(&p, OF_A_THING) && !has_any(&p, MONEY)) || has_any(&p, &["balance transfer"])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_callers_own_balance() {
        assert!(about_own_balance("is there any money on my account from that refund that i can use"));
        assert!(about_own_balance("how much is left on the gif card ending four four two one"));
        assert!(!about_own_balance("the parcel was left on the doorstep"));
        assert!(about_own_balance("could you check my balance, there's something left on the voucher"));
        assert!(about_own_balance("how much do I owe you"));
        assert!(!about_own_balance("what is the balance of this bike like"));
        assert!(about_own_balance("i'd like to know where my account stands"));
        assert!(about_own_balance("can you confirm the amount of my last payment"));
    }

    #[test]
    fn a_balance_that_is_a_things() {
        assert!(balance_of_a_thing("how is the balance on the folding chair is it stable"));
        assert!(!balance_of_a_thing("what's the balance on the account please"));
        assert!(!balance_of_a_thing("can you tell me the balance on my gift card"));
        assert!(!balance_of_a_thing("whats the balance on the giftcard"));
        assert!(balance_of_a_thing("what is the balance of this bike like"));
    }
}
