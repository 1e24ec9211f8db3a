DROP TABLE users;
DROP FUNCTION users_refuse_delete();
