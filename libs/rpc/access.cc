#include "parley/rpc/access.h"

#include <algorithm>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "parley/rpc/tls.h"

namespace parley::rpc {
namespace {

std::vector<std::string> Methods(const std::string& service,
                                 std::initializer_list<const char*> names) {
  std::vector<std::string> paths;
  for (const char* name : names) paths.push_back(absl::StrCat("/parley.v1.", service, "/", name));
  return paths;
}

std::vector<std::string> Peers(std::initializer_list<const char*> names) {
  std::vector<std::string> peers;
  for (const char* name : names) peers.push_back(Identity(name));
  return peers;
}

}  // namespace

std::vector<AccessRule> AccessRules(const std::string& service) {
  if (service == "auth") {
    return {
        {Peers({"gateway"}), Methods("AuthService", {"Authenticate", "AccountImport",
                                                     "MultiAccountImport", "AccountDelete",
                                                     "AccountCheck", "Kick"})},
        {Peers({"message", "relationship", "group"}), Methods("AuthService", {"AccountsExist"})},
        {Peers({"push"}), Methods("AuthService", {"AccountsExist", "ListAccounts"})},
        {Peers({"operator"}),
         Methods("AuthService",
                 {"CreateApp", "GetApp", "ListApps", "SetAppAdmins", "SetAppLimits"})},
    };
  }
  if (service == "message") {
    return {
        {Peers({"gateway"}), Methods("MessageService", {"*"})},
        {Peers({"gateway"}),
         Methods("GroupMessageService",
                 {"SendGroup", "GetGroupHistory", "GetGroupRange", "GetGroupRanges", "RecallGroup",
                  "GetGroupStates", "MarkGroupRead", "ModifyGroupMsg", "DeleteGroupMsgBySender",
                  "ClearGroupMsg", "ImportGroupMsg", "SetUnreadMsgNum",
                  "SendGroupSystemNotification", "GroupMsgReceipt", "GetGroupMsgReceipt",
                  "GetGroupMsgReceiptDetail", "SendBroadcastMsg"})},
        {Peers({"group"}), Methods("GroupMessageService", {"PostGroupTip"})},
        {Peers({"push"}), Methods("MessageService", {"GetBadges"})},
    };
  }
  if (service == "push") {
    return {
        {Peers({"gateway"}),
         Methods("PushService", {"QueryOnlineStatus", "SetCredential", "GetCredentials",
                                 "RemoveCredential", "SetC2CReceiveOpt", "GetC2CReceiveOpt",
                                 "ImPush", "SetAttrName", "GetAttrName", "GetAttr", "SetAttr",
                                 "RemoveAttr", "GetTag", "AddTag", "RemoveTag", "RemoveAllTags",
                                 "GetPendingBroadcasts"})},
        {Peers({"message", "relationship", "group"}), Methods("PushService", {"Deliver"})},
        {Peers({"message"}), Methods("PushService", {"DeliverGroup"})},
    };
  }
  if (service == "relationship") {
    return {
        {Peers({"gateway"}),
         Methods("RelationshipService",
                 {"FriendAdd", "FriendImport", "FriendUpdate", "FriendDelete", "FriendDeleteAll",
                  "FriendCheck", "FriendGet", "FriendGetList", "PendencyGet", "PendencyResponse",
                  "PendencyDelete", "PendencyReport", "BlackListAdd", "BlackListDelete",
                  "BlackListGet", "BlackListCheck", "GroupAdd", "GroupDelete", "GroupGet",
                  "PortraitGet", "PortraitSet"})},
        {Peers({"message"}), Methods("RelationshipService", {"CheckSendPermission"})},
        {Peers({"auth"}), Methods("RelationshipService", {"PortraitSet", "ForgetUsers"})},
        {Peers({"operator"}), Methods("RelationshipService", {"GetSettings", "UpdateSettings"})},
    };
  }
  if (service == "group") {
    return {
        {Peers({"gateway"}), Methods("GroupService", {"*"})},
        {Peers({"message"}),
         Methods("GroupService", {"GetMemberContext", "NoteGroupMessages", "ListRooms"})},
        {Peers({"push"}), Methods("GroupService", {"ListPushTargets"})},
        {Peers({"operator"}), Methods("GroupService", {"GetGroupSettings", "UpdateGroupSettings"})},
    };
  }
  if (service == "callback") {
    return {
        {Peers({"message", "relationship", "group"}),
         Methods("WebhookService", {"Before", "GetSettings"})},
        {Peers({"push"}), Methods("WebhookService", {"GetSettings"})},
        {Peers({"operator"}), Methods("WebhookService", {"GetSettings", "UpdateSettings",
                                                         "ListDeadLetters", "ReplayDeadLetters"})},
    };
  }
  if (service == "gateway") {
    return {{Peers({"operator"}), Methods("GatewayService", {"GetStats"})}};
  }
  return {};
}

bool Allowed(const std::vector<AccessRule>& rules, const std::string& peer,
             const std::string& method) {
  if (absl::StartsWith(method, "/grpc.health.v1.Health/") ||
      absl::StartsWith(method, "/grpc.reflection.")) {
    return true;
  }
  for (const auto& rule : rules) {
    if (std::find(rule.peers.begin(), rule.peers.end(), peer) == rule.peers.end()) continue;
    for (const auto& allowed : rule.methods) {
      if (allowed == method) return true;
      if (absl::EndsWith(allowed, "/*") &&
          absl::StartsWith(method, absl::string_view(allowed).substr(0, allowed.size() - 1))) {
        return true;
      }
    }
  }
  return false;
}

}  // namespace parley::rpc
