// The Switchboard browser SDK: plain ES modules, no build step.
export { RealtimeConnection, realtimeUrl, REALTIME_PATH } from "./realtime.js";
export { ChatApi, ChatError, CHAT_API_VERSION, userIdentifier } from "./chat.js";
export { RealtimeError } from "./realtime.js";
export {
  CallClient,
  Call,
  RemoteParticipant,
  RELAY_PATH,
  RELIABLE_LABEL,
  UNRELIABLE_LABEL,
} from "./calling.js";
export {
  PushApi,
  PushError,
  PUSH_API_VERSION,
  PUSH_PATH,
  fromBase64Url,
  toBase64Url,
} from "./push.js";
