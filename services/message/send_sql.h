// The SQL that persists C2C sends, inside the caller's transaction.
//
// WriteMany() stores a whole batch with three set-based statements (unnest
// over array parameters): the dedup lookup, both seq reservations, and every
// row (contents, timelines, conversations, dedup keys) through data-modifying
// CTEs. Per-message PL/pgSQL calls cost ~10 statements each and made one
// PostgreSQL backend the limit of the send path; one statement per table cost
// ten round trips per batch, which matter most when PostgreSQL is across a
// network. It keeps parley_c2c_send()'s semantics exactly:
// dedup, per-conversation MsgSeq, gapless per-user timeline seqs, both
// conversations. Jobs whose dedup key is already taken (a retry, or a repeat
// within the batch) go through parley_c2c_send() after the rest, in the same
// transaction, because only that path knows how to answer a duplicate.
//
// Locks: each statement touches its rows in a fixed order (sorted keys), and
// every batch runs the statements in the same order, so concurrent batches
// queue behind each other instead of deadlocking.
#pragma once

#include <vector>

#include <pqxx/pqxx>

#include "message_store.h"

namespace parley::message {

// A fresh id for an outbox row (c2c_after_outbox, delivery_outbox): made
// here rather than by a sequence, growing with time (see send_sql.cc).
int64_t NewOwedId();

// Persists one message with parley_c2c_send().
SendResult WriteOne(pqxx::work& tx, const SendJob& job);

// Persists every job, and records in the outbox the after-send callbacks
// owed for those stored (not duplicates), with their ids in the results'
// owed_callback_ids. Results match `jobs`. Throws what libpqxx throws.
std::vector<SendResult> WriteMany(pqxx::work& tx, const std::vector<SendJob>& jobs);

// After WriteOne (which records none): records the after-send callbacks owed for the jobs at `indices` that were
// stored (not duplicates), and fills their results' owed_callback_ids.
void RecordOwedCallbacks(pqxx::work& tx, const std::vector<SendJob>& jobs,
                         const std::vector<size_t>& indices, std::vector<SendResult>* results);

}  // namespace parley::message
