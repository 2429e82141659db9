/** Which URLs the SNS receiver will ever fetch: only https://sns.<region>.amazonaws.com. */
import { describe, expect, it } from 'vitest';
import { isSnsUrl } from '../../src/webhooks/sns.js';

describe('isSnsUrl', () => {
  it.each([
    ['https://sns.eu-west-1.amazonaws.com/SimpleNotificationService-abc.pem', true],
    ['https://sns.us-gov-west-1.amazonaws.com/SimpleNotificationService-abc.pem', true],
    ['https://sns.cn-north-1.amazonaws.com.cn/SimpleNotificationService-abc.pem', true],
    ['http://sns.eu-west-1.amazonaws.com/SimpleNotificationService-abc.pem', false],
    ['https://sns.eu-west-1.amazonaws.com.evil.example/x.pem', false],
    ['https://evil.example/sns.eu-west-1.amazonaws.com/x.pem', false],
    ['https://user@sns.eu-west-1.amazonaws.com/x.pem', false],
    ['https://sns.eu-west-1.amazonaws.com:8443/x.pem', false],
    ['https://s3.amazonaws.com/x.pem', false],
    ['https://sns.eu-west-1.amazonaws.com/x.txt', false],
    ['not a url', false],
  ])('%s → %s', (url, ok) => expect(isSnsUrl(url, '.pem')).toBe(ok));
});
