DROP TABLE outbox;
DROP TABLE webhooks;
DROP TABLE notifications;
