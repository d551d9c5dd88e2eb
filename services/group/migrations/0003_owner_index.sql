-- Groups by owner: Group.CallbackBeforeCreateGroup's CreateGroupNum.
CREATE INDEX groups_by_owner ON groups (sdkappid, owner);
