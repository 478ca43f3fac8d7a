// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

/// @title The payout leaf of LabelLedger v2
/// @notice OpenZeppelin StandardMerkleTree (standard-v1) encoding of
/// `(address account, uint16 token, uint256 cumulativePayment, uint256 cumulativeReward)`:
/// keccak256(bytes.concat(keccak256(abi.encode(...)))). The double hash keeps a leaf from ever
/// being read as an inner node.
library PayoutLeafLib {
    function hash(address account, uint16 token, uint256 cumulativePayment, uint256 cumulativeReward)
        internal
        pure
        returns (bytes32)
    {
        return keccak256(bytes.concat(keccak256(abi.encode(account, token, cumulativePayment, cumulativeReward))));
    }
}
