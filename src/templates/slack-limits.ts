/**
 * Slack's documented limits on Block Kit payloads, in one table. The builders in ./blocks.ts
 * stay inside them by construction; the rules in ./block-kit-rules.ts check a finished
 * payload against them (the fake Slack of the test suite runs those on every call).
 *
 * Sources: Slack's Block Kit reference (docs.slack.dev/reference/block-kit/…) and the doc
 * comments of @slack/types 3.2.0, which carry the same numbers (where the two differ the
 * stricter one is used and both are named).
 */
export const SLACK_LIMITS = {
  /** blocks/ reference: "up to 50 blocks in each message". */
  messageBlocks: 50,
  /** blocks/ reference: "and 100 blocks in modals or Home tabs". */
  viewBlocks: 100,
  /** chat.postMessage reference: text over 40,000 characters answers `msg_too_long`. */
  messageText: 40_000,
  /** section-block: "Maximum length for the text in this field is 3000 characters". */
  sectionText: 3000,
  /** section-block: fields "Maximum number of items is 10 … text in each item is 2000 characters". */
  sectionFields: 10,
  sectionFieldText: 2000,
  /** composition-objects/text-object: "The minimum length is 1 and maximum length is 3000 characters". */
  textObject: 3000,
  /** context-block: elements "Maximum number of items is 10". */
  contextElements: 10,
  /** header-block: "Maximum length for the text in this field is 150 characters". */
  headerText: 150,
  /** actions-block: "There is a maximum of 25 elements in each action block". */
  actionsElements: 25,
  /** button-element: text 75, value 2000, url 3000 characters. */
  buttonText: 75,
  buttonValue: 2000,
  url: 3000,
  /** option-object: text 75; value 150 in the web reference, 75 in @slack/types 3.2.0: 75. */
  optionText: 75,
  optionValue: 75,
  /** static-select-element: "Maximum number of options is 100". */
  selectOptions: 100,
  /** input-block: label and hint "Maximum length for the text in this field is 2000 characters". */
  inputLabel: 2000,
  inputHint: 2000,
  /** plain-text-input-element: max_length "Maximum value is 3000"; placeholder 150. */
  inputMaxLength: 3000,
  placeholder: 150,
  /** blocks/ reference: block_id and action_id "Maximum length for this field is 255 characters", unique per message/view. */
  id: 255,
  /** views reference: title, submit and close "maximum length of 24 characters". */
  viewTitle: 24,
  /** views reference: callback_id 255, private_metadata 3000 characters. */
  callbackId: 255,
  privateMetadata: 3000,
  /** conversations.setTopic / setPurpose: 250 characters. */
  topic: 250,
} as const;
