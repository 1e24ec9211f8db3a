-- firstsip: no-transaction
DROP INDEX CONCURRENTLY IF EXISTS briefings_create_time_brin;
DROP INDEX CONCURRENTLY IF EXISTS briefings_user_id_idx;
DROP INDEX CONCURRENTLY IF EXISTS users_deleted_idx;
