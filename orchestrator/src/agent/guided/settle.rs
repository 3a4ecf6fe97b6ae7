//! What the words settle when the sentence model is unsure or drawn the wrong way: the intent
//! the classifier gave (or none) and the caller's words in, the intent the agent acts on out.
//! Asking for a person in so many words ("a real person") is that, however far the sentence is
//! from the examples; a case named as such, a problem told of, the caller's own order or
//! balance, word left for someone, a general question (out of scope) each win over the
//! sentence model's lean (the cues: `cues.rs`, `people.rs`).

use super::{cues, money, people, Intent};

pub(super) fn settle(intent: Option<Intent>, text: &str) -> Option<Intent> {
    match intent {
        // "Are you a robot" asks about the agent; "can I leave a message for the manager"
        // is a message, whoever it is for.
        _ if people::asks_what_it_is(text) => Some(Intent::OutOfScope),
        _ if people::asks_to_leave_a_message(text) => Some(Intent::Message),
        Some(Intent::Person | Intent::Message)
            if people::asks_for_an_address(text) && !crate::live::asks_for_human(text) =>
        {
            Some(Intent::OutOfScope)
        }
        // "Do you do callbacks, just out of curiosity", "what happens if somebody misses a
        // payment, hypothetically": how things go, not the caller's own.
        Some(Intent::Balance | Intent::Message | Intent::Person) if cues::only_wondering(text) => {
            Some(Intent::OutOfScope)
        }
        Some(Intent::Balance) if cues::asks_in_general(text) => Some(Intent::OutOfScope),
        None | Some(Intent::OutOfScope) if crate::live::asks_for_human(text) => Some(Intent::Person),
        None | Some(Intent::OutOfScope | Intent::Message | Intent::Greet)
            if people::asks_for_someone_named(text) =>
        {
            Some(Intent::Person)
        }
        // "Put me through to returns", whatever it is about.
        _ if crate::live::asks_to_be_put_through(text) && !people::asks_for_a_call_back(text) => {
            Some(Intent::Person)
        }
        // A case named as such, not drawn to an order by its number or to a message by
        // "ringing back"; the caller's own order or balance, however unlike the examples
        // (changing or placing an order is not looking one up); word left for someone.
        None | Some(Intent::Order | Intent::Message | Intent::Greet) if cues::about_a_case(text) => {
            Some(Intent::Tickets)
        }
        // A problem, return or exchange told of is a case, even of an order; an order
        // waited for, with no problem told of, is the order.
        None | Some(Intent::Order) if cues::tells_of_a_problem(text) && !cues::asks_in_general(text) => {
            Some(Intent::Tickets)
        }
        Some(Intent::Order) if cues::tells_of_a_defect(text) => Some(Intent::Tickets),
        // Something wrong with a thing the caller has, with no order or case named.
        None | Some(Intent::OutOfScope | Intent::Greet) if cues::tells_of_own_problem(text) => {
            Some(Intent::Tickets)
        }
        None | Some(Intent::OutOfScope | Intent::Greet) if cues::about_own_order(text) => Some(Intent::Order),
        // Their order, with no word left or call back asked for ("…kindly let me know when
        // it will reach").
        Some(Intent::Message)
            if cues::about_own_order(text)
                && !people::leaves_word(text)
                && !people::asks_for_a_call_back(text)
                && !people::asks_to_leave_a_message(text) =>
        {
            Some(Intent::Order)
        }
        Some(Intent::Tickets) if cues::waits_for_an_order(text) => Some(Intent::Order),
        Some(Intent::Order | Intent::Tickets) if cues::changes_an_order(text) => Some(Intent::OutOfScope),
        Some(Intent::Order | Intent::Tickets) if cues::asks_in_general(text) => Some(Intent::OutOfScope),
        None | Some(Intent::Order | Intent::Tickets | Intent::Greet) if money::about_own_balance(text) => {
            Some(Intent::Balance)
        }
        Some(Intent::OutOfScope)
            if money::about_own_balance(text)
                && !cues::asks_in_general(text)
                && !money::balance_of_a_thing(text) =>
        {
            Some(Intent::Balance)
        }
        // "Sales, please, I want to talk to someone about a big order": a person, with no
        // word left.
        Some(Intent::Message)
            if crate::live::asks_for_human(text)
                && !people::leaves_word(text)
                && !people::asks_for_a_call_back(text) =>
        {
            Some(Intent::Person)
        }
        None | Some(Intent::Order | Intent::Tickets | Intent::Greet | Intent::OutOfScope)
            if people::leaves_word(text) =>
        {
            Some(Intent::Message)
        }
        // A call back asked for is word left, not a transfer now.
        None | Some(Intent::Person | Intent::Tickets | Intent::OutOfScope | Intent::Greet)
            if people::asks_for_a_call_back(text) && !cues::asks_in_general(text) =>
        {
            Some(Intent::Message)
        }
        // "Tell her I called, name's Fiona": word left, not a person asked for now.
        Some(Intent::Person) if people::leaves_word(text) && !crate::live::asks_for_human(text) => {
            Some(Intent::Message)
        }
        // A long turn with no greeting in it is not one.
        Some(Intent::Greet) if text.split_whitespace().count() >= 8 && !cues::greets(text) => {
            Some(Intent::OutOfScope)
        }
        // The balance of a pole or a chair is a product question.
        Some(Intent::Balance) if money::balance_of_a_thing(text) => Some(Intent::OutOfScope),
        i => i,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Intent::*;

    /// What the words make of each lean of the sentence model.
    fn settled(leans: &[Option<Intent>], text: &str) -> Vec<Option<Intent>> {
        leans.iter().map(|&lean| settle(lean, text)).collect()
    }

    #[test]
    fn a_problem_told_without_saying_whose_is_a_case_a_thing_wished_for_is_not() {
        for text in [
            "Sleeping bag zip broke first night out, needs sorting",
            "Tent fabric has a tear straight out the box",
            "The tent arrived but the poles are missing from the bag",
            "Thermal flask lid cracked on arrival, need you to log it",
            "The air mattress won't hold air, I've pumped it three times",
        ] {
            assert_eq!(settled(&[None, Some(OutOfScope)], text), [Some(Tickets); 2], "{text}");
        }
        for text in [
            "I need a tent that won't leak in the rain",
            "I heard your tents leak in heavy rain",
            "does the stove leak gas if it's knocked over",
            "If a tent arrives broken, what's the process generally",
        ] {
            assert_eq!(settle(Some(OutOfScope), text), Some(OutOfScope), "{text}");
        }
        assert_eq!(settle(None, "If a tent arrives broken, what's the process generally"), None);
        assert_eq!(settle(Some(Order), "my parcel is missing"), Some(Order));
    }

    #[test]
    fn own_orders_and_balances_however_put() {
        for text in [
            "No wait, not the tent, the stove order, has that one shipped",
            "Is my son's sleeping bag going to make it before Saturday",
            "Estimated delivery on the sleeping mat I bought, what's it showing your end",
        ] {
            assert_eq!(settle(Some(OutOfScope), text), Some(Order), "{text}");
        }
        for text in [
            "What's left to pay on the instalment plan for the tent",
            "Am I in arrears with you or not",
            "How much store credit have I got",
        ] {
            assert_eq!(settle(Some(OutOfScope), text), Some(Balance), "{text}");
        }
        assert_eq!(settle(Some(OutOfScope), "how do i keep my balance on a paddle board"), Some(OutOfScope));
        assert_eq!(
            settle(Some(Balance), "What's a balance transfer card, my bank keeps offering me one"),
            Some(OutOfScope)
        );
        assert_eq!(
            settle(Some(Balance), "What happens if somebody misses a payment, hypothetically"),
            Some(OutOfScope)
        );
    }

    #[test]
    fn people_asked_for_and_word_left() {
        for text in [
            "Billing department please",
            "I'd like a word with your boss",
            "Put Jenny on, she dealt with me before",
            "No wait, not sales, billing, put me to billing",
        ] {
            assert_eq!(settle(Some(Balance), text), Some(Person), "{text}");
        }
        assert_eq!(
            settle(Some(Message), "Sales please, I want to talk to someone about a big order"),
            Some(Person)
        );
        assert_eq!(settle(Some(OutOfScope), "I'm the manager"), Some(OutOfScope));
        for text in [
            "No, don't put me through, just tell Sam to ring me",
            "Tell her I called. Name's Fiona. She has my number.",
            "Can someone from y'all give me a holler back this evening",
            "Leave a note for accounts that I'll be paying on Friday",
            "Jot this down for your manager: call Tom back on the mobile",
            "Could you relay to your colleague Ravi that I've got the documents",
        ] {
            assert_eq!(settle(Some(Person), text), Some(Message), "{text}");
        }
        assert_eq!(settle(Some(Person), "I'm waiting for a call back about my refund"), Some(Person));
        assert_eq!(settle(Some(Message), "Do you do callbacks, just out of curiosity"), Some(OutOfScope));
        assert_eq!(
            settle(Some(Message), "Do you take messages for staff or is it all automated"),
            Some(OutOfScope)
        );
    }

    #[test]
    fn other_words_for_the_same_things() {
        let cases = [
            (OutOfScope, "Could you look up the status of purchase number 58213?", Order),
            (OutOfScope, "I bought a tent footprint and some pegs online, when should those land?", Order),
            (Tickets, "Which courier is bringing my goods, and do you have a reference for them?", Order),
            (OutOfScope, "What's the total I need to settle with you this month?", Balance),
            (Order, "What's been carried forward on my account from last month?", Balance),
            (Order, "The chair came without the carry bag and one of the legs is missing.", Tickets),
            (OutOfScope, "The inflatable mat has a puncture straight out of the packaging.", Tickets),
            (Order, "Has my returned backpack been received and checked yet?", Tickets),
            (OutOfScope, "The tent arrived but the rainfly isn't in the bag.", Tickets),
            (Order, "Could I have extension 214?", Person),
            (OutOfScope, "Could you hand me over to someone senior?", Person),
            (Order, "Can you patch me through to the shipping team?", Person),
            (Message, "Is anybody from the customer service team free to take my call?", Person),
            (Person, "I'd like to drop a line to the store manager.", Message),
            (Tickets, "Could somebody from customer care return my call later?", Message),
            (Tickets, "Could you forward a message to the complaints team for me?", Message),
            (Person, "Tell your supervisor I'd like to hear from them.", Message),
            (Person, "Is there a person I could email about partnerships?", OutOfScope),
            (Person, "What's the email address for press enquiries?", OutOfScope),
        ];
        for (lean, text, want) in cases {
            assert_eq!(settle(Some(lean), text), Some(want), "{text}");
        }
        // Not what they seem.
        for (lean, text) in [
            (OutOfScope, "do you sell those emergency beacons that can send a message by satellite"),
            (OutOfScope, "can I pay for a tent in instalments"),
            (Order, "my order isn't in the system, where is it"),
            (Person, "I want to speak to someone about my invoice, or can I email"),
        ] {
            assert_eq!(settle(Some(lean), text), Some(lean), "{text}");
        }
    }

    #[test]
    fn what_the_review_of_these_cues_found_stays_as_it_was() {
        for (lean, text) in [
            (OutOfScope, "Can I pay with my credit card?"),
            (Order, "Oh sorry, wrong one, it's 58213"),
            (OutOfScope, "hi do your tents leak in heavy rain"),
            (OutOfScope, "Hello, I was wondering whether the Airbeam leaks"),
            (OutOfScope, "I'd like to pay by bank transfer instead of card"),
            (OutOfScope, "Which courier do you use?"),
            (OutOfScope, "I'm bringing my two kids camping, what size tent do we need"),
            (Tickets, "This stove's faulty, what's your returns policy?"),
            (Tickets, "I asked for a call back Monday about my leaking tent and heard nothing"),
            (Order, "Can my delivery be brought forward to Thursday?"),
            (OutOfScope, "Will the new Coleman stock be here by June"),
            (Order, "I ordered a tent for someone else's birthday, will it arrive by Saturday"),
            (OutOfScope, "Put us on the waiting list for the Vango"),
            (OutOfScope, "Can I get this tent on the finance"),
            (Order, "hang on, let me jot down the tracking number"),
            (OutOfScope, "Sorry, this line isn't working, I'll ring back later"),
        ] {
            assert_eq!(settle(Some(lean), text), Some(lean), "{text}");
        }
        let cases = [
            (Some(Person), "I've tried to email you three times, can I just talk to a real person", Person),
            (None, "What's happening with my store credit?", Balance),
            (Some(OutOfScope), "Just out of curiosity, how much credit have I got left", Balance),
            (Some(Person), "Can someone senior call me back today", Message),
            (None, "I'd like to make a complaint about your courier, he was rude", Tickets),
            (Some(Message), "Could you ask Sarah to email us the quote", Message),
            (Some(OutOfScope), "I need to leave a message for Sam in accounts", Message),
            (Some(OutOfScope), "can you let me leave a message for the manager", Message),
        ];
        for (lean, text, want) in cases {
            assert_eq!(settle(lean, text), Some(want), "{text}");
        }
        assert!(crate::live::asks_for_human("Get me a human, your email was useless"));
    }
}
