/** The selector contract on every selector of issue 15, alone and behind outlier ejection. */
import { consistentHash, keyFromMetadata, keyFromRequest, outlierEjection, peakEwma, roundRobin, weightedRoundRobin } from '../src/index.js';
import { describeSelectorContract } from '../src/testing/index.js';

describeSelectorContract('weightedRoundRobin', weightedRoundRobin);
describeSelectorContract('consistentHash (metadata key)', () => consistentHash({ key: keyFromMetadata('key') }), { spreads: false });
describeSelectorContract('consistentHash (no key: at random)', () => consistentHash({ key: keyFromRequest('absent') }));
describeSelectorContract('peakEwma', () => peakEwma());
describeSelectorContract('outlierEjection(peakEwma())', () => outlierEjection(peakEwma()));
describeSelectorContract('outlierEjection(roundRobin())', () => outlierEjection(roundRobin(), { consecutiveFailures: 1 }));
describeSelectorContract('outlierEjection(consistentHash)', () => outlierEjection(consistentHash({ key: keyFromMetadata('key') }), { consecutiveFailures: 2 }), { spreads: false });
