-- The custom fields an app declares (AppDefinedData / AppMemberDefinedData
-- keys, as Tencent's console does); groups.app_defined and
-- group_members.app_defined hold the values.
CREATE TABLE group_app_fields (
  sdkappid     BIGINT PRIMARY KEY,
  group_keys   TEXT[] NOT NULL DEFAULT '{}',
  member_keys  TEXT[] NOT NULL DEFAULT '{}'
);
