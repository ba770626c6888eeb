// The ROI editor's Undo and Redo: a bounded list of what the owner did to the shapes since
// the page opened, with no DOM. Each step touches one ROI (`key`): a reshape {kind: "shape",
// before, after}, a drawn one {kind: "add", roi, index} or an unsaved one deleted
// {kind: "remove", roi, index}. Saving or deleting an ROI on the appliance makes its steps
// final: forget(key) drops them, so Undo never goes behind what the appliance has.

export const HISTORY_LIMIT = 100;
const MERGE_MS = 1000;  // arrow presses on one corner this close together undo as one step

export class RoiHistory {
  constructor(limit = HISTORY_LIMIT) {
    this.limit = limit;
    this.done = [];
    this.undone = [];
  }

  get canUndo() { return this.done.length > 0; }
  get canRedo() { return this.undone.length > 0; }
  /** The step Undo would take back, or null. */
  get nextUndo() { return this.done[this.done.length - 1] || null; }
  /** The step Redo would do again, or null. */
  get nextRedo() { return this.undone[this.undone.length - 1] || null; }

  /**
   * Add `step` (a new edit ends what could be redone). A step with a `merge` name (an arrow
   * press) joins the last one of that name on the same ROI when it came within MERGE_MS.
   */
  record(step, now = Date.now()) {
    const last = this.nextUndo;
    if (step.merge && last && !this.undone.length && last.merge === step.merge && last.key === step.key
        && now - last.at < MERGE_MS) {
      last.after = step.after;
      last.at = now;
      return;
    }
    this.done.push({...step, at: now});
    if (this.done.length > this.limit) this.done.shift();  // the oldest goes: the list stays bounded
    this.undone = [];
  }

  /** The step to take back (moved to the redo side), or null. */
  undo() {
    const step = this.done.pop() || null;
    if (step) this.undone.push(step);
    return step;
  }

  /** The step to do again (moved back to the undo side), or null. */
  redo() {
    const step = this.undone.pop() || null;
    if (step) this.done.push(step);
    return step;
  }

  /** Drop every step of the ROI `key`: it is saved or deleted on the appliance. */
  forget(key) {
    this.done = this.done.filter((step) => step.key !== key);
    this.undone = this.undone.filter((step) => step.key !== key);
  }
}
