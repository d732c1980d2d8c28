// The board socket (ws/board/<id>/) with version tracking, shared by the board and task pages.
//
// Every board frame carries the board's `version`. Frames are applied in version order: one
// at or below the version we hold is stale (the state we fetched already includes it); the
// next one is applied; one past a gap means we missed something, so we fetch the board's
// state (kanban:board_state) and apply only the frames that follow it. The state is also
// fetched on every (re)connect, which covers what happened while the page was loading or the
// socket was away. `viewer_join`/`viewer_leave` frames carry no version (not board state).

import { getJSON } from "./http.js";
import { LiveSocket } from "./socket.js";

export class BoardLive {
  /**
   * @param {{wsPath: string, stateUrl: string, version: number,
   *          onFrame: (frame: object) => void, onState: (state: object) => void,
   *          onViewer?: (frame: object) => void, onStatus?: (status: string) => void}} options
   */
  constructor(options) {
    this.options = options;
    this.version = Number(options.version) || 0;
    this.fetching = false;
    this.fetchAgain = false;
    /** @type {object[]} frames that arrived while the state was being fetched */
    this.buffered = [];
    this.paused = false;
    /** @type {object[]} frames held while the page asked for a pause (a drag in progress) */
    this.held = [];
  }

  start() {
    this.socket = new LiveSocket(this.options.wsPath, {
      onMessage: (data) => this.receive(data),
      onOpen: () => this.resync(),
      onStatus: (status) => this.options.onStatus && this.options.onStatus(status),
    });
    return this;
  }

  /** Hold frames (e.g. while the user drags a card); `resume` applies them in order. */
  pause() {
    this.paused = true;
  }

  resume() {
    this.paused = false;
    const state = this.heldState;
    this.heldState = null;
    if (state) this.applyState(state);
    const held = this.held.splice(0);
    for (const frame of held) this.receive(frame);
  }

  receive(data) {
    if (!data || typeof data !== "object") return;
    if (data.type === "viewer_join" || data.type === "viewer_leave") {
      if (this.options.onViewer) this.options.onViewer(data);
      return;
    }
    const version = Number(data.version);
    if (!Number.isFinite(version)) return; // errors and other unversioned frames
    if (this.paused) {
      this.held.push(data);
      return;
    }
    if (this.fetching) {
      this.buffered.push(data);
      return;
    }
    if (version <= this.version) return;
    if (version === this.version + 1) {
      this.version = version;
      this.options.onFrame(data);
      return;
    }
    this.resync();
  }

  applyState(state) {
    if (Number(state.version) >= this.version) {
      this.version = Number(state.version);
      this.options.onState(state);
    }
  }

  /** Fetch the board's state and converge on it (single flight: a second call re-runs it). */
  async resync() {
    if (this.fetching) {
      this.fetchAgain = true;
      return;
    }
    this.fetching = true;
    let result;
    do {
      this.fetchAgain = false;
      result = await getJSON(this.options.stateUrl);
    } while (this.fetchAgain);
    this.fetching = false;
    if (result.ok && result.data && Number.isFinite(Number(result.data.version))) {
      // Redrawing the board under a card being dragged would drop the drag: wait for it.
      if (this.paused) this.heldState = result.data;
      else this.applyState(result.data);
    } else if (result.status === 0 || result.status >= 500) {
      // Unreachable: the socket's reconnect will call us again.
    }
    const buffered = this.buffered.splice(0).sort((a, b) => a.version - b.version);
    for (const frame of buffered) this.receive(frame);
  }
}
