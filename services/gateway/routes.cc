#include "routes.h"

namespace parley::gateway {

// One row per endpoint: the Tencent path and the RPC it calls. The request and
// response protos carry Tencent's field names, so there is nothing else to do.
#define PARLEY_ROUTE(service, command, backend, Method, Req, Resp)                             \
  api.AddRoute(service, command,                                                            \
               UnaryRoute<v1::Req, v1::Resp>(                                               \
                   [stub = (backend)](grpc::ClientContext* c, const v1::Req* q, v1::Resp* r,   \
                                   std::function<void(grpc::Status)> done) {                \
                     stub->async()->Method(c, q, r, std::move(done));                       \
                   },                                                                       \
                   api.rpc_deadline()))

void RegisterRoutes(RestApi& api, const Backends& backends) {
  // Per-service codes: admin required (§2.4), JSON parse, bad field, internal.
  api.AddService("im_open_login_svc", {errors::kRequiresAdmin, errors::kJsonParse,
                                       errors::kAccountInvalidParam, errors::kAccountInternal});

  PARLEY_ROUTE("im_open_login_svc", "account_import", backends.auth, AccountImport,
               AccountImportRequest, AccountImportResponse);
  PARLEY_ROUTE("im_open_login_svc", "multiaccount_import", backends.auth, MultiAccountImport,
               MultiAccountImportRequest, MultiAccountImportResponse);
  PARLEY_ROUTE("im_open_login_svc", "account_delete", backends.auth, AccountDelete,
               AccountDeleteRequest, AccountDeleteResponse);
  PARLEY_ROUTE("im_open_login_svc", "account_check", backends.auth, AccountCheck,
               AccountCheckRequest, AccountCheckResponse);
  PARLEY_ROUTE("im_open_login_svc", "kick", backends.auth, Kick, KickRequest, KickResponse);

  api.AddService("openim", {90009, 90001, 90001, 90994});
  PARLEY_ROUTE("openim", "sendmsg", backends.message, SendC2C, SendC2CRequest, SendC2CResponse);
  PARLEY_ROUTE("openim", "batchsendmsg", backends.message, BatchSendC2C, BatchSendC2CRequest,
               BatchSendC2CResponse);
  PARLEY_ROUTE("openim", "importmsg", backends.message, ImportC2C, ImportC2CRequest,
               ImportC2CResponse);
  PARLEY_ROUTE("openim", "admin_getroammsg", backends.message, GetRoamMessages,
               GetRoamMessagesRequest, GetRoamMessagesResponse);
  PARLEY_ROUTE("openim", "admin_msgwithdraw", backends.message, Recall, RecallRequest,
               RecallResponse);
  PARLEY_ROUTE("openim", "modify_c2c_msg", backends.message, Modify, ModifyRequest,
               ModifyResponse);
  PARLEY_ROUTE("openim", "delete_c2c_msg_ramble", backends.message, DeleteForOwner,
               DeleteForOwnerRequest, DeleteForOwnerResponse);
  PARLEY_ROUTE("openim", "admin_set_msg_read", backends.message, MarkRead, MarkReadRequest,
               MarkReadResponse);
  PARLEY_ROUTE("openim", "get_c2c_unread_msg_num", backends.message, GetUnread,
               GetUnreadRequest, GetUnreadResponse);
  PARLEY_ROUTE("openim", "query_online_status", backends.push, QueryOnlineStatus,
               QueryOnlineStatusRequest, QueryOnlineStatusResponse);
  PARLEY_ROUTE("openim", "querystate", backends.push, QueryOnlineStatus,
               QueryOnlineStatusRequest, QueryOnlineStatusResponse);
  // Group message edits are under openim, as Tencent has them; codes are the
  // group ones (the message service answers with 10xxx).
  PARLEY_ROUTE("openim", "modify_group_msg", backends.group_message, ModifyGroupMsg,
               ModifyGroupMsgRequest, GroupMessageEmpty);
  api.AllowForUsers("openim/modify_group_msg");  // members edit their own

  // Global mutes (compat reference §3.8).
  api.AddService("openconfigsvr", {90009, 90001, 90001, 90994});
  PARLEY_ROUTE("openconfigsvr", "setnospeaking", backends.message, SetNoSpeaking,
               SetNoSpeakingRequest, NoSpeakingEmpty);
  PARLEY_ROUTE("openconfigsvr", "getnospeaking", backends.message, GetNoSpeaking,
               GetNoSpeakingRequest, GetNoSpeakingResponse);
  // Offline push credentials: Parley's own (Tencent sets them in its console).
  api.AddService("parley_push", {90009, 90001, 90001, 90994});
  PARLEY_ROUTE("parley_push", "set_credential", backends.push, SetCredential, PushCredential,
               SetCredentialResponse);
  PARLEY_ROUTE("parley_push", "get_credentials", backends.push, GetCredentials,
               GetCredentialsRequest, GetCredentialsResponse);
  PARLEY_ROUTE("parley_push", "remove_credential", backends.push, RemoveCredential,
               RemoveCredentialRequest, RemoveCredentialResponse);
  PARLEY_ROUTE("parley_push", "set_c2c_receive_opt", backends.push, SetC2CReceiveOpt,
               SetC2CReceiveOptRequest, SetC2CReceiveOptResponse);
  PARLEY_ROUTE("parley_push", "get_c2c_receive_opt", backends.push, GetC2CReceiveOpt,
               GetC2CReceiveOptRequest, GetC2CReceiveOptResponse);
  api.AllowForUsers("parley_push/set_c2c_receive_opt");  // users set their own
  api.AllowForUsers("parley_push/get_c2c_receive_opt");
  // All-member push (compat reference §3.3).
  api.AddService("all_member_push", {90009, 90001, 90001, 90994});
  PARLEY_ROUTE("all_member_push", "im_push", backends.push, ImPush, ImPushRequest, ImPushResponse);
  PARLEY_ROUTE("all_member_push", "im_set_attr_name", backends.push, SetAttrName, AttrNames,
               AllMemberEmpty);
  PARLEY_ROUTE("all_member_push", "im_get_attr_name", backends.push, GetAttrName, AllMemberEmpty,
               AttrNames);
  PARLEY_ROUTE("all_member_push", "im_get_attr", backends.push, GetAttr, AccountsRequest,
               GetAttrResponse);
  PARLEY_ROUTE("all_member_push", "im_set_attr", backends.push, SetAttr, SetAttrRequest,
               AllMemberEmpty);
  PARLEY_ROUTE("all_member_push", "im_remove_attr", backends.push, RemoveAttr, RemoveAttrRequest,
               AllMemberEmpty);
  PARLEY_ROUTE("all_member_push", "im_get_tag", backends.push, GetTag, AccountsRequest,
               GetTagResponse);
  PARLEY_ROUTE("all_member_push", "im_add_tag", backends.push, AddTag, UserTagsRequest,
               AllMemberEmpty);
  PARLEY_ROUTE("all_member_push", "im_remove_tag", backends.push, RemoveTag, UserTagsRequest,
               AllMemberEmpty);
  PARLEY_ROUTE("all_member_push", "im_remove_all_tags", backends.push, RemoveAllTags,
               AccountsRequest, AllMemberEmpty);
  api.AddService("recentcontact", {50003, 50002, 50002, 50004});
  PARLEY_ROUTE("recentcontact", "get_list", backends.message, GetConversations,
               GetConversationsRequest, GetConversationsResponse);
  PARLEY_ROUTE("recentcontact", "delete", backends.message, DeleteConversation,
               DeleteConversationRequest, DeleteConversationResponse);
  PARLEY_ROUTE("recentcontact", "top", backends.message, TopConversations,
               TopConversationsRequest, TopConversationsResponse);

  // Relationship chain (§3.5). pendency_* are Parley's: Tencent offers them
  // only in its client SDKs.
  api.AddService("sns", {30004, 30001, 30001, 30006});
  api.AllowForUsers("sns");
  const auto& rel = backends.relationship;
  PARLEY_ROUTE("sns", "friend_add", rel, FriendAdd, FriendAddRequest, FriendResults);
  PARLEY_ROUTE("sns", "friend_import", rel, FriendImport, FriendImportRequest, FriendResults);
  PARLEY_ROUTE("sns", "friend_update", rel, FriendUpdate, FriendUpdateRequest, FriendResults);
  PARLEY_ROUTE("sns", "friend_delete", rel, FriendDelete, FriendDeleteRequest, FriendResults);
  PARLEY_ROUTE("sns", "friend_delete_all", rel, FriendDeleteAll, FriendDeleteAllRequest, Empty);
  PARLEY_ROUTE("sns", "friend_check", rel, FriendCheck, FriendCheckRequest, FriendCheckResponse);
  PARLEY_ROUTE("sns", "friend_get", rel, FriendGet, FriendGetRequest, FriendGetResponse);
  PARLEY_ROUTE("sns", "friend_get_list", rel, FriendGetList, FriendGetListRequest,
               FriendGetListResponse);
  PARLEY_ROUTE("sns", "pendency_get", rel, PendencyGet, PendencyGetRequest, PendencyGetResponse);
  PARLEY_ROUTE("sns", "pendency_response", rel, PendencyResponse, PendencyResponseRequest,
               FriendResults);
  PARLEY_ROUTE("sns", "pendency_delete", rel, PendencyDelete, PendencyDeleteRequest,
               FriendResults);
  PARLEY_ROUTE("sns", "pendency_report", rel, PendencyReport, PendencyReportRequest, Empty);
  PARLEY_ROUTE("sns", "black_list_add", rel, BlackListAdd, BlackListChangeRequest, FriendResults);
  PARLEY_ROUTE("sns", "black_list_delete", rel, BlackListDelete, BlackListChangeRequest,
               FriendResults);
  PARLEY_ROUTE("sns", "black_list_get", rel, BlackListGet, BlackListGetRequest,
               BlackListGetResponse);
  PARLEY_ROUTE("sns", "black_list_check", rel, BlackListCheck, BlackListCheckRequest,
               BlackListCheckResponse);
  PARLEY_ROUTE("sns", "group_add", rel, GroupAdd, GroupAddRequest, GroupAddResponse);
  PARLEY_ROUTE("sns", "group_delete", rel, GroupDelete, GroupDeleteRequest, GroupDeleteResponse);
  PARLEY_ROUTE("sns", "group_get", rel, GroupGet, GroupGetRequest, GroupGetResponse);

  // Profiles (§3.4).
  api.AddService("profile", {40004, 40001, 40001, 40006});
  api.AllowForUsers("profile");
  PARLEY_ROUTE("profile", "portrait_get", rel, PortraitGet, PortraitGetRequest,
               PortraitGetResponse);
  PARLEY_ROUTE("profile", "portrait_set", rel, PortraitSet, PortraitSetRequest, Empty);

  // Groups (§3.7, §5): admin required 10007, JSON 10011, bad field 10004,
  // internal 10002.
  api.AddService("group_open_http_svc", {10007, 10011, 10004, 10002});
  // End users reach these over the client protocol's api frame, under their
  // role's rules (the group service checks them).
  api.AllowForUsers("group_open_http_svc");
  const auto& grp = backends.group;
#define PARLEY_GROUP_ROUTE(command, Method, Req, Resp) \
  PARLEY_ROUTE("group_open_http_svc", command, grp, Method, Req, Resp)
  PARLEY_GROUP_ROUTE("create_group", CreateGroup, CreateGroupRequest, CreateGroupResponse);
  PARLEY_GROUP_ROUTE("import_group", ImportGroup, CreateGroupRequest, CreateGroupResponse);
  PARLEY_GROUP_ROUTE("import_group_member", ImportGroupMember, ImportGroupMemberRequest,
                     AddGroupMemberResponse);
  PARLEY_GROUP_ROUTE("get_group_info", GetGroupInfo, GetGroupInfoRequest, GetGroupInfoResponse);
  PARLEY_GROUP_ROUTE("modify_group_base_info", ModifyGroupBaseInfo, ModifyGroupBaseInfoRequest,
                     GroupEmpty);
  PARLEY_GROUP_ROUTE("destroy_group", DestroyGroup, GroupIdRequest, GroupEmpty);
  PARLEY_GROUP_ROUTE("change_group_owner", ChangeGroupOwner, ChangeGroupOwnerRequest, GroupEmpty);
  PARLEY_GROUP_ROUTE("get_appid_group_list", GetAppidGroupList, GetAppidGroupListRequest,
                     GetAppidGroupListResponse);
  PARLEY_GROUP_ROUTE("get_joined_group_list", GetJoinedGroupList, GetJoinedGroupListRequest,
                     GetJoinedGroupListResponse);
  PARLEY_GROUP_ROUTE("get_role_in_group", GetRoleInGroup, GetRoleInGroupRequest,
                     GetRoleInGroupResponse);
  PARLEY_GROUP_ROUTE("add_group_member", AddGroupMember, AddGroupMemberRequest,
                     AddGroupMemberResponse);
  PARLEY_GROUP_ROUTE("delete_group_member", DeleteGroupMember, DeleteGroupMemberRequest,
                     GroupEmpty);
  PARLEY_GROUP_ROUTE("quit_group", QuitGroup, GroupIdRequest, GroupEmpty);
  PARLEY_GROUP_ROUTE("apply_join_group", ApplyJoinGroup, ApplyJoinGroupRequest,
                     ApplyJoinGroupResponse);
  PARLEY_GROUP_ROUTE("get_join_group_requests", GetJoinRequests, GroupIdRequest,
                     GetJoinRequestsResponse);
  PARLEY_GROUP_ROUTE("handle_join_group_request", HandleJoinRequest, HandleJoinRequestRequest,
                     GroupEmpty);
  PARLEY_GROUP_ROUTE("get_group_member_info", GetGroupMemberInfo, GetGroupMemberInfoRequest,
                     GetGroupMemberInfoResponse);
  PARLEY_GROUP_ROUTE("get_specified_group_member_info", GetSpecifiedGroupMemberInfo,
                     GetSpecifiedGroupMemberInfoRequest, GetSpecifiedGroupMemberInfoResponse);
  PARLEY_GROUP_ROUTE("modify_group_member_info", ModifyGroupMemberInfo,
                     ModifyGroupMemberInfoRequest, GroupEmpty);
  PARLEY_GROUP_ROUTE("forbid_send_msg", ForbidSendMsg, ForbidSendMsgRequest, GroupEmpty);
  PARLEY_GROUP_ROUTE("get_group_muted_account", GetGroupMutedAccount, GetGroupMutedAccountRequest,
                     GetGroupMutedAccountResponse);
  PARLEY_GROUP_ROUTE("get_group_shutted_uin", GetGroupShuttedUin, GroupIdRequest,
                     GetGroupShuttedUinResponse);
  PARLEY_GROUP_ROUTE("modify_group_attr", ModifyGroupAttr, GroupAttrRequest, GroupEmpty);
  PARLEY_GROUP_ROUTE("set_group_attr", SetGroupAttr, GroupAttrRequest, GroupEmpty);
  PARLEY_GROUP_ROUTE("delete_group_attr", DeleteGroupAttr, GroupAttrRequest, GroupEmpty);
  PARLEY_GROUP_ROUTE("clear_group_attr", ClearGroupAttr, GroupIdRequest, GroupEmpty);
  PARLEY_GROUP_ROUTE("get_group_counter", GetGroupCounter, GroupCounterKeysRequest,
                     GroupCounterResponse);
  PARLEY_GROUP_ROUTE("update_group_counter", UpdateGroupCounter, UpdateGroupCounterRequest,
                     GroupCounterResponse);
  PARLEY_GROUP_ROUTE("delete_group_counter", DeleteGroupCounter, GroupCounterKeysRequest,
                     GroupEmpty);
  // AVChatRoom (live rooms).
  PARLEY_GROUP_ROUTE("get_online_member_num", GetOnlineMemberNum, GroupIdRequest,
                     GetOnlineMemberNumResponse);
  PARLEY_GROUP_ROUTE("ban_group_member", BanGroupMember, BanGroupMemberRequest, GroupEmpty);
  PARLEY_GROUP_ROUTE("unban_group_member", UnbanGroupMember, UnbanGroupMemberRequest, GroupEmpty);
  PARLEY_GROUP_ROUTE("get_group_ban_member", GetGroupBanMember, GetGroupBanMemberRequest,
                     GetGroupBanMemberResponse);
#undef PARLEY_GROUP_ROUTE
  // AVChatRoom extras: app admins only.
  api.AddService("group_open_avchatroom_http_svc", {10007, 10011, 10004, 10002});
#define PARLEY_ROOM_ROUTE(command, Method, Req, Resp) \
  PARLEY_ROUTE("group_open_avchatroom_http_svc", command, grp, Method, Req, Resp)
  PARLEY_ROOM_ROUTE("get_members", GetRoomMembers, GetRoomMembersRequest, GetRoomMembersResponse);
  PARLEY_ROOM_ROUTE("modify_user_info", ModifyRoomUserInfo, ModifyRoomUserInfoRequest, GroupEmpty);
  PARLEY_ROOM_ROUTE("modify_admin", ModifyRoomAdmin, ModifyRoomAdminRequest, GroupEmpty);
  PARLEY_ROOM_ROUTE("get_admin_list", GetRoomAdminList, GroupIdRequest, GetRoomAdminListResponse);
  PARLEY_ROOM_ROUTE("check_members", CheckRoomMembers, CheckRoomMembersRequest,
                    CheckRoomMembersResponse);
#undef PARLEY_ROOM_ROUTE
  // Community topics; members call them too (the owner and admins manage).
  PARLEY_ROUTE("group_open_http_svc", "import_topic", grp, ImportTopic, CreateTopicRequest,
               CreateTopicResponse);
  // Community permission groups.
  PARLEY_ROUTE("group_open_http_svc", "create_permission_group", grp, CreatePermissionGroup,
               CreatePermissionGroupRequest, CreatePermissionGroupResponse);
  PARLEY_ROUTE("group_open_http_svc", "destroy_permission_group", grp, DestroyPermissionGroup,
               DestroyPermissionGroupRequest, PermissionGroupResults);
  PARLEY_ROUTE("group_open_http_svc", "modify_permission_group", grp, ModifyPermissionGroup,
               ModifyPermissionGroupRequest, GroupEmpty);
  PARLEY_ROUTE("group_open_http_svc", "get_permission_group", grp, GetPermissionGroup,
               GetPermissionGroupRequest, GetPermissionGroupResponse);
  PARLEY_ROUTE("group_open_http_svc", "add_topic_permission_group", grp, AddTopicPermissionGroup,
               TopicPermissionRequest, TopicPermissionResults);
  PARLEY_ROUTE("group_open_http_svc", "set_topic_permission_group", grp, SetTopicPermissionGroup,
               TopicPermissionRequest, TopicPermissionResults);
  PARLEY_ROUTE("group_open_http_svc", "delete_topic_permission_group", grp,
               DeleteTopicPermissionGroup, DeleteTopicPermissionRequest, TopicPermissionResults);
  PARLEY_ROUTE("group_open_http_svc", "get_topic_permission_group", grp, GetTopicPermissionGroup,
               DeleteTopicPermissionRequest, GetTopicPermissionResponse);
  PARLEY_ROUTE("group_open_http_svc", "add_permission_group_member", grp,
               AddPermissionGroupMember, PermissionGroupMembersRequest, AddGroupMemberResponse);
  PARLEY_ROUTE("group_open_http_svc", "delete_permission_group_member", grp,
               DeletePermissionGroupMember, PermissionGroupMembersRequest, GroupEmpty);
  PARLEY_ROUTE("group_open_http_svc", "get_permission_group_member_list", grp,
               GetPermissionGroupMemberList, GetPermissionGroupMemberListRequest,
               GetPermissionGroupMemberListResponse);
  api.AddService("million_group_open_http_svc", {10007, 10011, 10004, 10002});
  api.AllowForUsers("million_group_open_http_svc");
#define PARLEY_TOPIC_ROUTE(command, Method, Req, Resp) \
  PARLEY_ROUTE("million_group_open_http_svc", command, grp, Method, Req, Resp)
  PARLEY_TOPIC_ROUTE("create_topic", CreateTopic, CreateTopicRequest, CreateTopicResponse);
  PARLEY_TOPIC_ROUTE("get_topic", GetTopic, GetTopicRequest, GetTopicResponse);
  PARLEY_TOPIC_ROUTE("modify_topic", ModifyTopic, ModifyTopicRequest, GroupEmpty);
  PARLEY_TOPIC_ROUTE("destroy_topic", DestroyTopic, DestroyTopicRequest, DestroyTopicResponse);
#undef PARLEY_TOPIC_ROUTE
  // Group messages: the message service.
  const auto& gmsg = backends.group_message;
  PARLEY_ROUTE("group_open_http_svc", "send_group_msg", gmsg, SendGroup, SendGroupRequest,
               SendGroupResponse);
  PARLEY_ROUTE("group_open_http_svc", "group_msg_get_simple", gmsg, GetGroupHistory,
               GetGroupHistoryRequest, GetGroupHistoryResponse);
  PARLEY_ROUTE("group_open_http_svc", "group_msg_recall", gmsg, RecallGroup, RecallGroupRequest,
               RecallGroupResponse);
  PARLEY_ROUTE("group_open_http_svc", "delete_group_msg_by_sender", gmsg, DeleteGroupMsgBySender,
               DeleteGroupMsgBySenderRequest, GroupMessageEmpty);
  PARLEY_ROUTE("group_open_http_svc", "clear_group_msg", gmsg, ClearGroupMsg,
               ClearGroupMsgRequest, GroupMessageEmpty);
  PARLEY_ROUTE("group_open_http_svc", "import_group_msg", gmsg, ImportGroupMsg,
               ImportGroupMsgRequest, ImportGroupMsgResponse);
  PARLEY_ROUTE("group_open_http_svc", "set_unread_msg_num", gmsg, SetUnreadMsgNum,
               SetUnreadMsgNumRequest, GroupMessageEmpty);
  PARLEY_ROUTE("group_open_http_svc", "send_group_system_notification", gmsg,
               SendGroupSystemNotification, SystemNotificationRequest, GroupMessageEmpty);
  PARLEY_ROUTE("group_open_http_svc", "send_broadcast_msg", gmsg, SendBroadcastMsg,
               BroadcastMsgRequest, BroadcastMsgResponse);
  PARLEY_ROUTE("group_open_http_svc", "group_msg_receipt", gmsg, GroupMsgReceipt,
               GroupMsgReceiptRequest, GroupMessageEmpty);
  PARLEY_ROUTE("group_open_http_svc", "get_group_msg_receipt", gmsg, GetGroupMsgReceipt,
               GetGroupMsgReceiptRequest, GetGroupMsgReceiptResponse);
  PARLEY_ROUTE("group_open_http_svc", "get_group_msg_receipt_detail", gmsg,
               GetGroupMsgReceiptDetail, GetGroupMsgReceiptDetailRequest,
               GetGroupMsgReceiptDetailResponse);
  // Only get_group_attr lives in group_open_attr_http_svc (reference §3.9).
  api.AddService("group_open_attr_http_svc", {10007, 10011, 10004, 10002});
  api.AllowForUsers("group_open_attr_http_svc");
  PARLEY_ROUTE("group_open_attr_http_svc", "get_group_attr", grp, GetGroupAttr, GroupIdRequest,
               GetGroupAttrResponse);
}

#undef PARLEY_ROUTE

}  // namespace parley::gateway
