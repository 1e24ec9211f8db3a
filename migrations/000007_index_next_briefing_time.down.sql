-- firstsip: no-transaction
DROP INDEX CONCURRENTLY IF EXISTS users_next_briefing_idx;
